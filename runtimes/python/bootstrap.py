"""Inlet's Python bootstrap: a client of the Lambda Runtime API (2018-06-01).

Inlet starts this file as `python3 -u bootstrap.py` with the working directory and environment set the way Lambda
sets them (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT, ...). It imports the user's handler once, then loops:
fetch the next event, call `handler(event, context)`, post its JSON result or its error. Errors, log records and the
context object follow Lambda's Python runtime (awslambdaric), so unmodified handlers behave as they do on Lambda.

The standard library only, and Python 3.9 syntax, so that it runs on whatever python3 the machine has.
Written for Inlet from the public Runtime API description; no code is taken from other runtime clients.
"""

import decimal
import http.client
import importlib
import importlib.util
import json
import logging
import os
import sys
import time
import traceback

API_VERSION = "2018-06-01"
THIS_FILE = os.path.abspath(__file__)

# Inlet reads the process's stdout and stderr line by line and frames each invocation with END and REPORT lines:
# when an answer arrives, it logs whatever is in the pipes before END. So before every answer this runtime flushes
# both streams (the handler may have replaced them with buffered ones), and every line printed before it is there.


class Fault(Exception):
    """A failure the runtime reports under one of Lambda's Runtime.* error types."""

    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


# ---------------------------------------------------------------------------------------------------------------
# Logging
# ---------------------------------------------------------------------------------------------------------------

_request_id = None


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _request_id or ""
        return True


class _StdoutHandler(logging.Handler):
    """Writes to whatever sys.stdout is at the time, as Lambda's handler does (users swap it in tests)."""

    def emit(self, record):
        try:
            sys.stdout.write(self.format(record))
        except Exception:
            self.handleError(record)


def setup_logging():
    # Lambda's text format: level, UTC time with milliseconds, request id, message. The root logger keeps
    # Python's default level (WARNING) unless AWS_LAMBDA_LOG_LEVEL says otherwise, as on Lambda.
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n", "%Y-%m-%dT%H:%M:%S"))
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = (os.environ.get("AWS_LAMBDA_LOG_LEVEL") or "").upper()
    if level in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        root.setLevel(level)
    elif level == "WARN":
        root.setLevel(logging.WARNING)
    elif level == "FATAL":
        root.setLevel(logging.CRITICAL)


def log_error(error):
    """The `[ERROR] Type: message` block Lambda prints for a failed init or invocation, with its traceback."""
    head = "[ERROR]"
    if error["errorType"]:
        head += " " + error["errorType"] + (":" if error["errorMessage"] else "")
    if error["errorMessage"]:
        head += " " + error["errorMessage"]
    lines = [head, "Traceback (most recent call last):"]
    for entry in error["stackTrace"]:
        lines.extend(entry.splitlines() or [""])
    write_out("\n".join(lines) + "\n")


def write_out(text):
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except Exception:
        os.write(1, text.encode("utf-8", "replace"))


def flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# ---------------------------------------------------------------------------------------------------------------
# Error documents
# ---------------------------------------------------------------------------------------------------------------

def make_error(error_type, message, trace, request_id):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id or "",
        "stackTrace": trace or [],
    }


def error_from_exception(exc, request_id):
    """`{errorMessage, errorType, requestId, stackTrace}` for an exception, without this file's own frames."""
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(exc.__traceback__)]
    while frames and os.path.abspath(frames[0][0]) == THIS_FILE:
        frames.pop(0)
    # Four-tuples, as Lambda formats them: no column markers under the source line on 3.11+.
    return make_error(type(exc).__name__, str(exc), traceback.format_list(frames), request_id)


def fault_error(fault, request_id):
    return make_error(fault.error_type, fault.message, fault.trace, request_id)


# ---------------------------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------------------------

def _json_default(value):
    # Lambda's runtime writes Decimals (DynamoDB's numbers) as JSON numbers.
    if isinstance(value, decimal.Decimal):
        if value.is_nan():
            return float("nan")
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError("Object of type {} is not JSON serializable".format(type(value).__name__))


def marshal(result):
    if isinstance(result, (bytes, bytearray)):
        return bytes(result), "application/unknown"
    try:
        return json.dumps(result, default=_json_default).encode("utf-8"), "application/json"
    except Exception as e:
        raise Fault("Runtime.MarshalError", "Unable to marshal response: {}".format(e))


def unmarshal(body, content_type):
    if content_type and content_type.split(";")[0].strip() != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise Fault("Runtime.UnmarshalError", "Unable to unmarshal input: {}".format(e))


# ---------------------------------------------------------------------------------------------------------------
# The context object
# ---------------------------------------------------------------------------------------------------------------

class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, values):
        self.cognito_identity_id = values.get("cognitoIdentityId")
        self.cognito_identity_pool_id = values.get("cognitoIdentityPoolId")

    def __repr__(self):
        return "CognitoIdentity([cognito_identity_id={},cognito_identity_pool_id={}])".format(
            self.cognito_identity_id, self.cognito_identity_pool_id)


class Client(object):
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __init__(self, values):
        for name in self.__slots__:
            setattr(self, name, values.get(name))


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __init__(self, values):
        self.custom = values.get("custom")
        self.env = values.get("env")
        client = values.get("client")
        self.client = Client(client) if isinstance(client, dict) else None


def _json_header(value, name):
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except Exception as e:
        raise Fault("Runtime.LambdaContextUnmarshalError", "Unable to parse {} JSON: {}".format(name, e))
    return parsed if isinstance(parsed, dict) else None


class LambdaContext(object):
    """What Lambda's Python runtime passes as `context`; the function's fields come from the environment."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, cognito_identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as Lambda's runtime gives it: it is read from AWS_LAMBDA_FUNCTION_MEMORY_SIZE.
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = None
        self.client_context = ClientContext(client_context) if client_context is not None else None
        # Lambda always gives an identity object; its fields are None unless Cognito authorised the call.
        self.identity = CognitoIdentity(cognito_identity or {})
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, message):
        write_out(str(message))

    def __repr__(self):
        return ("LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},function_name={},"
                "memory_limit_in_mb={},function_version={},invoked_function_arn={},client_context={},identity={}])"
                ).format(self.aws_request_id, self.log_group_name, self.log_stream_name, self.function_name,
                         self.memory_limit_in_mb, self.function_version, self.invoked_function_arn,
                         self.client_context, self.identity)


# ---------------------------------------------------------------------------------------------------------------
# Runtime API transport
# ---------------------------------------------------------------------------------------------------------------

class RuntimeApi(object):
    """One keep-alive connection for the whole /next → /response loop."""

    def __init__(self, address):
        if not address:
            raise RuntimeError("AWS_LAMBDA_RUNTIME_API is not set; this file is meant to be started by Inlet")
        self.address = address
        self.connection = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            if self.connection is None:
                # No timeout: GET /next long-polls for as long as no mail arrives.
                self.connection = http.client.HTTPConnection(self.address)
            try:
                self.connection.request(method, "/" + API_VERSION + path, body=body, headers=headers or {})
                response = self.connection.getresponse()
                return response.status, response.headers, response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The host may close an idle keep-alive connection just as we reuse it; one retry on a fresh one.
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise

    def next(self):
        status, headers, body = self.request("GET", "/runtime/invocation/next")
        if status != 200:
            raise RuntimeError("GET /runtime/invocation/next answered {}: {!r}".format(status, body[:200]))
        return headers, body

    def post(self, path, body, headers, what):
        status, _, answer = self.request("POST", path, body, headers)
        if not 200 <= status < 300:
            # The host owns the invocation's state: report and carry on with the next event.
            sys.stderr.write("[inlet bootstrap] the Runtime API answered {} to {}: {}\n".format(
                status, what, answer.decode("utf-8", "replace")))

    def post_response(self, request_id, body, content_type):
        self.post("/runtime/invocation/{}/response".format(_quote(request_id)), body,
                  {"Content-Type": content_type}, "the invocation response")

    def post_error(self, request_id, error):
        self.post("/runtime/invocation/{}/error".format(_quote(request_id)), json.dumps(error).encode("utf-8"),
                  {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": _header(error["errorType"])},
                  "the invocation error")

    def post_init_error(self, error):
        self.post("/runtime/init/error", json.dumps(error).encode("utf-8"),
                  {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": _header(error["errorType"])},
                  "the init error")


def _quote(request_id):
    from urllib.parse import quote
    return quote(request_id, safe="")


def _header(value):
    return "".join(c if " " <= c <= "~" else "?" for c in str(value)) or "Runtime.Unknown"


# ---------------------------------------------------------------------------------------------------------------
# Handler loading
# ---------------------------------------------------------------------------------------------------------------

def load_handler(name):
    """`file.function` or `folder/file.function` (the module path may use / or .), imported from the task root."""
    try:
        module_name, function_name = name.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(name, e))

    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise Fault("Runtime.BuiltInModuleConflict",
                        "Cannot use built-in module {} as a handler module".format(module_name))
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError", "Unable to import module '{}': {}".format(module_name, e))
    except SyntaxError as e:
        trace = ['  File "{}" Line {}\n    {}'.format(e.filename, e.lineno, e.text)]
        raise Fault("Runtime.UserCodeSyntaxError", "Syntax error in module '{}': {}".format(module_name, e), trace)

    handler = getattr(module, function_name, None)
    if handler is None:
        raise Fault("Runtime.HandlerNotFound", "Handler '{}' missing on module '{}'".format(function_name, module_name))
    return handler


# ---------------------------------------------------------------------------------------------------------------
# Invocations
# ---------------------------------------------------------------------------------------------------------------

def run_invocation(api, handler, headers, body):
    global _request_id
    request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
    if not request_id:
        raise RuntimeError("GET /runtime/invocation/next answered without Lambda-Runtime-Aws-Request-Id")
    _request_id = request_id
    trace_id = headers.get("Lambda-Runtime-Trace-Id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)

    error = None
    try:
        try:
            deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        except ValueError:
            deadline_ms = 0
        if deadline_ms <= 0:
            deadline_ms = int(time.time() * 1000) + 15 * 60 * 1000  # no deadline given: Lambda's longest timeout
        context = LambdaContext(
            request_id, deadline_ms, headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            _json_header(headers.get("Lambda-Runtime-Client-Context"), "Client Context"),
            _json_header(headers.get("Lambda-Runtime-Cognito-Identity"), "Cognito Identity"))
        event = unmarshal(body, headers.get("Content-Type"))
        result, content_type = marshal(handler(event, context))
    except Fault as fault:
        error = fault_error(fault, request_id)
    except Exception as e:
        error = error_from_exception(e, request_id)

    if error is not None:
        log_error(error)
        flush_output()
        api.post_error(request_id, error)
    else:
        flush_output()
        api.post_response(request_id, result, content_type)


class _BotocoreEndpointFinder(object):
    """boto3 reads AWS_ENDPOINT_URL from 1.28 (botocore 1.31) on; older copies, such as Debian's python3-boto3, do
    not. When a function imports such a botocore, its clients are given the endpoint, unless the function names one
    itself. Newer copies are left alone: they also honour the per-service AWS_ENDPOINT_URL_<SERVICE> variables."""

    def __init__(self, endpoint):
        self.endpoint = endpoint

    def find_spec(self, name, path=None, target=None):
        if name != "botocore.session":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module
        endpoint = self.endpoint

        def exec_module(module):
            load(module)
            import botocore
            version = tuple(int(p) for p in botocore.__version__.split(".")[:2] if p.isdigit())
            if version >= (1, 31):
                return
            create_client = module.Session.create_client

            def create_client_with_endpoint(session, service_name, *args, **kwargs):
                if len(args) < 5 and kwargs.get("endpoint_url") is None:
                    kwargs["endpoint_url"] = endpoint
                return create_client(session, service_name, *args, **kwargs)

            module.Session.create_client = create_client_with_endpoint

        spec.loader.exec_module = exec_module
        return spec


def redirect_old_botocore():
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        sys.meta_path.insert(0, _BotocoreEndpointFinder(endpoint))


def main():
    setup_logging()
    redirect_old_botocore()
    api = RuntimeApi(os.environ.get("AWS_LAMBDA_RUNTIME_API"))
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # The task root comes first, as on Lambda; this file's own folder is not the function's business.
    here = os.path.dirname(THIS_FILE)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    if task_root not in sys.path:
        sys.path.insert(0, task_root)

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Fault as fault:
        error = fault_error(fault, None)
    except Exception as e:
        # The module raised at import: reported as itself, as Lambda does.
        error = error_from_exception(e, None)
    else:
        error = None

    if error is not None:
        log_error(error)
        flush_output()
        api.post_init_error(error)
        sys.exit(1)

    while True:
        headers, body = api.next()
        run_invocation(api, handler, headers, body)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except (OSError, http.client.HTTPException, RuntimeError) as e:
        sys.stderr.write("[inlet bootstrap] cannot talk to the Runtime API: {}\n".format(e))
        sys.exit(1)
