// sd_notify wrapper used by main; a no-op outside systemd.
export const notify = {
  ready(_status: string): void {},
  reloading(): void {},
  stopping(): void {},
};
