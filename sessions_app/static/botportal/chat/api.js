/* The /api/v1 session routes over fetch: JSON in, a Response out, or an ApiError. */

export function ApiError(status, message, code, retryAfter) {
  this.status = status;
  this.message = message;
  this.code = code;
  this.retryAfter = retryAfter;
}

/* `base`: the API prefix ("/api/v1"); `fetch`: the fetch function; `token()`: the session token to
 * present, or null. Session creation never presents one (a token cannot open sessions). */
export function createApiClient({ base, fetch, token }) {
  const api = base.replace(/\/$/, "");

  function request(method, path, body, accept) {
    const headers = { Accept: accept || "application/json" };
    const current = token();
    if (current && path.indexOf("/session/create") < 0) {
      headers.Authorization = "Bearer " + current;
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(api + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    }).then(
      function (response) {
        if (response.ok) return response;
        return response
          .json()
          .catch(function () {
            return {};
          })
          .then(function (payload) {
            throw new ApiError(
              response.status,
              payload.message || response.statusText,
              payload.code,
              parseInt(response.headers.get("Retry-After") || "", 10)
            );
          });
      },
      function () {
        throw new ApiError(0, "network", "NETWORK");
      }
    );
  }

  function json(method, path, body) {
    return request(method, path, body).then(function (response) {
      return response.json();
    });
  }

  return { request, json };
}

// What the visitor is told about a failed request.
export function explain(error) {
  if (!(error instanceof ApiError)) return "Something went wrong. Please try again.";
  if (error.status === 429) {
    const wait =
      error.retryAfter > 0
        ? " Please wait " + error.retryAfter + " seconds and try again."
        : " Please wait a moment and try again.";
    return "Too many messages right now." + wait;
  }
  if (error.status === 404) return "This assistant is no longer available.";
  if (error.status === 403) return "This assistant can't be reached from this page.";
  if (error.status === 0) return "Can't reach the server. Check your connection and try again.";
  if (error.status === 400) return "That message couldn't be sent: " + error.message;
  return "Something went wrong on our side. Please try again.";
}
