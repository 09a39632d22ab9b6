from rest_framework.pagination import CursorPagination


class SampleCursorPagination(CursorPagination):
    """Pages by sample position: each page is an index range scan, as fast at sample 900,000 as
    at 0, and never counts the dataset."""

    ordering = "position"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class ItemCursorPagination(CursorPagination):
    ordering = "position"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
