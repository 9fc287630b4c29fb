import type { ComponentChildren } from "preact";

interface Props {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  testid?: string;
}

export function Dialog({ title, onClose, children, testid }: Props) {
  return (
    <div class="backdrop" onClick={(event) => event.target === event.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={title} data-testid={testid}>
        <header>
          <h2>{title}</h2>
          <button class="icon" aria-label="Close" onClick={onClose}>×</button>
        </header>
        {children}
      </div>
    </div>
  );
}
