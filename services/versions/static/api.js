// The page reads the same JSON endpoints as any client; the browser revalidates
// with the ETags it was given (a 304 costs no body).

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// With RATCHET_TOKEN set, the API answers 401 until the page sends the bearer
// token: ask once, keep it for this tab only (sessionStorage), send it with every call.
const TOKEN_KEY = "ratchet-token";

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const result = { Accept: "application/json" };
  if (token) result.Authorization = `Bearer ${token}`;
  return result;
}

export async function get(path) {
  let response = await fetch(path, { cache: "no-cache", headers: headers() });
  if (response.status === 401) {
    const token = window.prompt("This Ratchet needs its access token (RATCHET_TOKEN):");
    if (token) {
      sessionStorage.setItem(TOKEN_KEY, token.trim());
      response = await fetch(path, { cache: "no-cache", headers: headers() });
    }
  }
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch (_) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response.json();
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
