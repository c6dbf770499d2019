// Which slice of a long list fits on screen: the selection stays in view, and
// only the visible rows are rendered (200 backends cost as much as 20).

export interface Window {
  start: number;
  end: number;
}

export function windowAround(cursor: number, total: number, height: number): Window {
  if (height <= 0 || total <= 0) return { start: 0, end: 0 };
  if (total <= height) return { start: 0, end: total };
  const start = Math.max(0, Math.min(total - height, cursor - Math.floor(height / 2)));
  return { start, end: start + height };
}
