// Sizes in bytes: an integer, or a string with a binary unit: "512B", "16KiB",
// "1MiB". Decimal-looking units ("16KB", "16k") are refused, since they are read
// as 1000 or 1024 by different tools; the message says which spelling to use.

const UNIT_BYTES: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 * 1024, GiB: 1024 * 1024 * 1024 };
const SIZE = /^(\d+)\s*(B|KiB|MiB|GiB)$/;

export type SizeResult = { ok: true; bytes: number } | { ok: false; reason: string };

/** A size written as a string; integers are taken as bytes by the section reader. */
export function parseSize(text: string): SizeResult {
  const s = text.trim();
  const m = SIZE.exec(s);
  if (m) return { ok: true, bytes: Number(m[1]) * UNIT_BYTES[m[2]!]! };
  const loose = /^(\d+)\s*([kKmMgG])/.exec(s);
  const hint = loose
    ? ` (write "${loose[1]}${loose[2]!.toUpperCase()}iB" for ${loose[2]!.toUpperCase()}iB = 1024^n bytes)`
    : '';
  return { ok: false, reason: `"${text}" is not a size like "512B", "16KiB", "1MiB"${hint}` };
}
