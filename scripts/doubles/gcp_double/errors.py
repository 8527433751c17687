"""Google's error model: the JSON error body and the gRPC status codes."""

# google.rpc.Code: name -> (number, HTTP status), as in google/rpc/code.proto.
CODES = {
    "OK": (0, 200),
    "CANCELLED": (1, 499),
    "UNKNOWN": (2, 500),
    "INVALID_ARGUMENT": (3, 400),
    "DEADLINE_EXCEEDED": (4, 504),
    "NOT_FOUND": (5, 404),
    "ALREADY_EXISTS": (6, 409),
    "PERMISSION_DENIED": (7, 403),
    "UNAUTHENTICATED": (16, 401),
    "RESOURCE_EXHAUSTED": (8, 429),
    "FAILED_PRECONDITION": (9, 400),
    "ABORTED": (10, 409),
    "OUT_OF_RANGE": (11, 400),
    "UNIMPLEMENTED": (12, 501),
    "INTERNAL": (13, 500),
    "UNAVAILABLE": (14, 503),
    "DATA_LOSS": (15, 500),
}
HTTP_DEFAULT_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                       404: "NOT_FOUND", 409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION",
                       429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
                       503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


class ApiError(Exception):
    """An error answered to the client: HTTP code + google.rpc.Status."""

    def __init__(self, status, message, http=None, details=None, headers=None):
        super().__init__(message)
        if status not in CODES:
            status = "UNKNOWN"
        self.status = status
        self.message = message
        self.http = http if http is not None else CODES[status][1]
        self.details = details or []
        self.headers = headers or {}

    @property
    def code(self):
        return CODES[self.status][0]

    def body(self):
        err = {"code": self.http, "message": self.message, "status": self.status}
        if self.details:
            err["details"] = self.details
        return {"error": err}

    def rpc_status(self):
        """As a google.rpc.Status JSON (what an LRO's `error` holds)."""
        s = {"code": self.code, "message": self.message}
        if self.details:
            s["details"] = self.details
        return s


def invalid(message, field=None):
    details = []
    if field is not None:
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": field, "description": message}]}]
    return ApiError("INVALID_ARGUMENT", message, details=details)


def not_found(message):
    return ApiError("NOT_FOUND", message)


def already_exists(message):
    return ApiError("ALREADY_EXISTS", message)


def failed_precondition(message, http=400):
    return ApiError("FAILED_PRECONDITION", message, http=http)
