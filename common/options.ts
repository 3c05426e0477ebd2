/**
 * Options normalised once. A component declares its options interface with each default documented
 * on its field, and beside it a table of those defaults; `withDefaults` fills every option the caller
 * left undefined from the table, so the code that runs reads one complete object and never writes
 * `?? default` (docs/style.md, "Options are normalised once").
 */

/** The defaults a table may hold for the options `O`: any of its options, never undefined. */
export type DefaultsOf<O> = { readonly [K in keyof O]?: Exclude<O[K], undefined> };

/** `O` with the options that `D` gives a default made required and defined. */
export type WithDefaults<O, D> = Omit<O, keyof D> & {
  readonly [K in keyof D & keyof O]-?: Exclude<O[K], undefined>;
};

/** `opts` with each option it leaves undefined (absent, or present as undefined) taken from `defaults`. */
export function withDefaults<O extends object, D extends DefaultsOf<O>>(
  opts: O,
  defaults: D,
): WithDefaults<O, D> {
  const out: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(opts)) if (value !== undefined) out[key] = value;
  return out as WithDefaults<O, D>;
}
