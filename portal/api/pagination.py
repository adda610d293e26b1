from rest_framework.pagination import PageNumberPagination

from portal.params import Param


class Pagination(PageNumberPagination):
    """``?page=2&page_size=100``. A page that is not a number is a 400 like any bad parameter
    (a page past the last one stays DRF's 404); a ``page_size`` above 500 gives 500."""

    page_size_query_param = "page_size"
    max_page_size = 500
    page_param = Param("page", "integer", min_value=1, description="A page number (from 1).")
    page_size_param = Param(
        "page_size", "integer", min_value=1, description="Results per page (at most 500)."
    )

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw not in self.last_page_strings:
            self.page_param.parse(raw)
        self.page_size_param.parse(request.query_params.get(self.page_size_query_param))
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": param.name,
                "required": False,
                "in": "query",
                "description": param.description,
                "schema": param.openapi_schema(),
            }
            for param in (self.page_param, self.page_size_param)
        ]
