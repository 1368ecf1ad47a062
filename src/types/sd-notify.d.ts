// sd-notify ships no types; these are the calls of its native part we use (notify.cc).
declare module 'sd-notify' {
  /** sd_notify(0, state): a no-op in libsystemd when NOTIFY_SOCKET is unset. */
  export function sendState(state: string): void;
}
