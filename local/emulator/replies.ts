// The bodies the real service answers with: the XDR error envelope, Xpanse's 422 shape, the gateway's HTML 502.

export function xdrError(code: number, message: string, extra: unknown = null) {
  return { reply: { err_code: code, err_msg: message, err_extra: extra } };
}

export const ERROR_MESSAGES = {
  400: "Bad Request. Got an invalid JSON.",
  401: "Public API request unauthorized",
  402: "User does not have the required license type to run this API",
  403: "The provided API Key does not have the required RBAC permissions to run this API",
  404: "Not Found",
  405: "Method Not Allowed",
  429: "Too many requests.",
  500: "An error occurred while processing XDR public API",
} as const;

export function xpanseUnprocessable(message: string, field: string | undefined) {
  return {
    code: 422,
    status: "Unprocessable Entity",
    message,
    errors: { [field ?? "request_data"]: [message] },
  };
}

export const BAD_GATEWAY_HTML = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
</body>
</html>
`;
