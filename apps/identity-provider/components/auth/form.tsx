import type { ComponentProps, ReactNode } from 'react';
import { CircleAlert, CircleCheck, Clock, type LucideIcon } from 'lucide-react';
import { MAX_PASSWORD_CHARACTERS } from '@/lib/security/password-policy';

/**
 * The building blocks of the end-user forms (sign-in, consent, password change, recovery, second factor,
 * logout, the account page's password). No hooks and no server-only imports, so server pages and client
 * components both render them. Names, ids, autocomplete values and test ids stay with the callers: the
 * browser tests and password managers find the fields by them.
 */

export const labelClass = 'block text-sm font-medium text-slate-700';
export const inputClass =
  'mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-base text-slate-900 shadow-sm placeholder:text-slate-400 ' +
  'focus:border-brand-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-1 sm:text-sm';
const focus = 'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';
export const primaryButtonClass =
  'inline-flex w-full items-center justify-center gap-2 rounded-md bg-brand-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm ' +
  `hover:bg-brand-700 disabled:opacity-60 ${focus}`;
export const secondaryButtonClass =
  'inline-flex w-full items-center justify-center gap-2 rounded-md border border-slate-300 bg-white px-4 py-2.5 text-sm font-semibold text-slate-800 shadow-sm ' +
  `hover:bg-slate-50 disabled:opacity-60 ${focus}`;
export const linkClass = `font-medium text-brand-700 underline-offset-2 hover:underline ${focus}`;

export type SearchParams = Promise<Record<string, string | string[] | undefined>>;
/** A search parameter as one string (the first of repeated ones). */
export const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/**
 * A form posted to an interaction endpoint: the CSRF token of the sealed session cookie and the fields that
 * carry the sign-in on (interaction, return_to) travel as hidden inputs.
 */
export function AuthForm({
  action,
  csrf,
  hidden = {},
  className = 'mt-6 space-y-4',
  children,
}: {
  action: string;
  csrf: string;
  hidden?: Record<string, string>;
  className?: string;
  children: ReactNode;
}) {
  return (
    <form method="post" action={action} className={className}>
      {Object.entries(hidden).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      <input type="hidden" name="csrf" value={csrf} />
      {children}
    </form>
  );
}

/**
 * The account a password form is about, for password managers (they attach the new password to it). Hidden
 * from everyone else.
 */
export function UsernameHint({ email }: { email: string }) {
  return <input type="email" name="username" autoComplete="username" value={email} readOnly hidden />;
}

type InputProps = Omit<ComponentProps<'input'>, 'id' | 'className'>;

/** A labelled input; `hint` is shown below it and named by aria-describedby (id `<id>_hint` unless given). */
export function Field({
  id,
  label,
  hint,
  hintId = `${id}_hint`,
  inputClassName,
  ...input
}: InputProps & { id: string; label: ReactNode; hint?: ReactNode; hintId?: string; inputClassName?: string }) {
  return (
    <div>
      <label htmlFor={id} className={labelClass}>
        {label}
      </label>
      <input
        id={id}
        {...input}
        aria-describedby={hint ? hintId : input['aria-describedby']}
        className={inputClassName ? `${inputClass} ${inputClassName}` : inputClass}
      />
      {hint && (
        <p id={hintId} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      )}
    </div>
  );
}

/** A required password input of at most MAX_PASSWORD_CHARACTERS; `autoComplete` says which password it is. */
export function PasswordField(props: Omit<ComponentProps<typeof Field>, 'type' | 'autoComplete'> & { autoComplete: 'current-password' | 'new-password' }) {
  return <Field type="password" required maxLength={MAX_PASSWORD_CHARACTERS} {...props} />;
}

/** A refusal shown above a form, announced to screen readers. */
export function ErrorNotice({ testId, error, children }: { testId: string; error?: string; children: ReactNode }) {
  return (
    <div
      role="alert"
      data-testid={testId}
      data-error={error}
      className="mt-5 flex gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800"
    >
      <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
      <p>{children}</p>
    </div>
  );
}

/** A confirmation that something happened (a link was sent, the password changed). */
export function StatusNotice({ testId, icon: Icon = CircleCheck, children }: { testId: string; icon?: LucideIcon; children: ReactNode }) {
  return (
    <div role="status" data-testid={testId} className="mt-5 flex gap-2 rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2.5 text-sm text-emerald-900">
      <Icon aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
      <p>{children}</p>
    </div>
  );
}

/** The form's main button, full width; `name`/`value` for forms with more than one answer (consent). */
export function SubmitButton({
  testId,
  icon: Icon,
  className = primaryButtonClass,
  children,
  ...button
}: Omit<ComponentProps<'button'>, 'type' | 'className'> & { testId: string; icon?: LucideIcon; className?: string }) {
  return (
    <button type="submit" className={className} data-testid={testId} {...button}>
      {Icon && <Icon aria-hidden className="h-4 w-4" />}
      {children}
    </button>
  );
}

/** What a sign-in page shows when the request it belongs to is gone (expired, or already completed). */
export function InteractionExpired({ children = 'Go back to the application you came from and sign in again from there.' }: { children?: ReactNode }) {
  return (
    <section aria-labelledby="expired-title" data-testid="interaction-expired">
      <Clock aria-hidden className="h-8 w-8 text-slate-400" />
      <h1 id="expired-title" className="mt-3 text-xl font-semibold tracking-tight">
        This sign-in request has expired
      </h1>
      <p className="mt-2 text-sm text-slate-600">{children}</p>
    </section>
  );
}
