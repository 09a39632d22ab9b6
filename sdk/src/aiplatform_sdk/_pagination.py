"""Lists that follow the server's `next` links (page numbers or cursors alike) lazily."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, the links to the pages around it, and the total where the
    list counts it (cursor-paged lists do not)."""

    items: list[T]
    next_url: str | None
    previous_url: str | None
    count: int | None

    @property
    def has_next(self) -> bool:
        return self.next_url is not None


class Paginator(Generic[T]):
    """Iterating gives every item, page after page, each fetched when reached; `pages()` gives
    the pages, `first_page()` only the first, `to_list()` everything at once."""

    def __init__(self, fetch: Callable[[str | None], Page[T]]) -> None:
        self._fetch = fetch

    def pages(self) -> Iterator[Page[T]]:
        page = self._fetch(None)
        yield page
        while page.next_url:
            page = self._fetch(page.next_url)
            yield page

    def first_page(self) -> Page[T]:
        return self._fetch(None)

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def to_list(self) -> list[T]:
        return list(self)

    def first(self) -> T | None:
        """The first item, or None for an empty list (fetches one page)."""
        items = self.first_page().items
        return items[0] if items else None
