import type { ComponentChildren } from "preact";

export type Tone = "ok" | "bad" | "warn" | "muted" | "info";

export function Badge({ tone, children, title }: { tone: Tone; children: ComponentChildren; title?: string }) {
  return <span class={`badge ${tone}`} title={title}>{children}</span>;
}
