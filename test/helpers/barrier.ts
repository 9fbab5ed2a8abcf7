// Ordering concurrent work in tests without sleeps: a latch one side opens and the other
// awaits, and a barrier that lets n parties through once all of them have arrived.

export interface Latch {
  /** Resolves once `open` was called. */
  opened: Promise<void>;
  open(): void;
}

export function latch(): Latch {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** `arrive()` resolves when `parties` calls of it have been made. */
export function barrier(parties: number): { arrive(): Promise<void> } {
  const all = latch();
  let arrived = 0;
  return {
    arrive() {
      if (++arrived === parties) all.open();
      return all.opened;
    },
  };
}
