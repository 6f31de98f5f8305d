import { h, replace } from './dom';

/**
 * A read-only field with a Copy button. The clipboard API needs a secure context (https or
 * localhost) and permission; when it is missing or refused, the text is selected in the field and
 * the note says to press Ctrl+C, so copying always works.
 *
 * @example
 * ```ts
 * root.append(copyField('Write key', source.writeKey));
 * ```
 */
export function copyField(label: string, value: string, opts: { multiline?: boolean } = {}): HTMLElement {
  const field = opts.multiline
    ? h('textarea', { readonly: true, rows: 2, 'aria-label': label, class: 'copy-value' })
    : h('input', { type: 'text', readonly: true, 'aria-label': label, class: 'copy-value' });
  field.value = value;
  const note = h('span', { class: 'muted copy-note', role: 'status' });
  const fallback = (): void => {
    field.focus();
    field.select();
    replace(note, 'Selected: press Ctrl+C (⌘C) to copy');
  };
  const button = h(
    'button',
    {
      type: 'button',
      class: 'secondary',
      on: {
        click: () => {
          if (!navigator.clipboard?.writeText) return fallback();
          navigator.clipboard.writeText(value).then(() => replace(note, 'Copied'), fallback);
        },
      },
    },
    'Copy',
  );
  return h('div', { class: 'copy' }, h('span', { class: 'copy-label' }, label), field, button, note);
}
