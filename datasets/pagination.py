from rest_framework.pagination import CursorPagination


class SampleCursorPagination(CursorPagination):
    """Pages by sample position: each page is an index range scan, as fast at sample 900,000 as
    at 0, and never counts the dataset."""

    ordering = "position"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def paginate_rows(self, fetch, request) -> list[dict]:
        """DRF's paginate_queryset for rows that hand-written SQL reads:
        `fetch(position=, reverse=, offset=, limit=)` returns up to `limit` rows after `position`
        in position order (before it, in descending order, when `reverse`), skipping `offset`.
        The cursors, links and their edge cases stay DRF's; tests/datasets compares the two."""
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, None, None)
        self.cursor = self.decode_cursor(request)
        offset, reverse, current_position = self.cursor or (0, False, None)
        # One row more than the page tells whether a page follows.
        results = fetch(position=current_position, reverse=reverse, offset=offset, limit=self.page_size + 1)
        self.page = results[:self.page_size]

        if len(results) > len(self.page):
            has_following_position = True
            following_position = self._get_position_from_instance(results[-1], self.ordering)
        else:
            has_following_position = False
            following_position = None

        if reverse:
            self.page = list(reversed(self.page))
            self.has_next = (current_position is not None) or (offset > 0)
            self.has_previous = has_following_position
            if self.has_next:
                self.next_position = current_position
            if self.has_previous:
                self.previous_position = following_position
        else:
            self.has_next = has_following_position
            self.has_previous = (current_position is not None) or (offset > 0)
            if self.has_next:
                self.next_position = following_position
            if self.has_previous:
                self.previous_position = current_position

        if (self.has_previous or self.has_next) and self.template is not None:
            self.display_page_controls = True
        return self.page


class ItemCursorPagination(CursorPagination):
    ordering = "position"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
