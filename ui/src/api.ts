/**
 * The UI's client of Weir's management API. Requests carry the session cookie (same origin) and,
 * for anything but GET/HEAD, the CSRF token that `/api/auth/me` and `/api/auth/login` return, in the
 * `x-weir-csrf` header. Errors come back as {@link ApiError} with the server's stable code.
 *
 * @example
 * ```ts
 * const api = new Api();
 * const { sources } = await api.get<{ sources: Source[] }>('/api/sources?workspace=' + id);
 * ```
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  csrfToken: string | undefined;
  /** Called on a 401, so the shell can show the log-in form. */
  onUnauthorized: (() => void) | undefined;

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && this.csrfToken) headers['x-weir-csrf'] = this.csrfToken;
    const res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const data: unknown = text ? safeJson(text) : undefined;
    if (!res.ok) {
      // A refused sign-in is the log-in form's own answer, not a session that ended.
      if (res.status === 401 && path !== '/api/auth/login') this.onUnauthorized?.();
      const err = (data ?? {}) as { code?: string; message?: string };
      throw new ApiError(res.status, err.code ?? `HTTP_${res.status}`, err.message ?? res.statusText);
    }
    return data as T;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}
