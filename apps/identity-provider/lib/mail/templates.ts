import type { MailMessage, MailTemplate } from '@idp/database-identity';
import { escapeHtml } from '../oidc/respond';

/** What a template needs; `link` is the only secret and lives only in the rendered message. */
export interface TemplateInput {
  to: string;
  link: string;
  expiresInMinutes: number;
}

const COPY: Record<MailTemplate, { subject: string; intro: string; action: string; outro: string }> = {
  password_reset: {
    subject: 'Reset your password',
    intro: 'Someone (hopefully you) asked to reset the password of this account. Follow the link to choose a new one.',
    action: 'Choose a new password',
    outro: 'If you did not ask for this, ignore this message: your password stays as it is. Resetting it signs you out everywhere.',
  },
  email_verification: {
    subject: 'Confirm your e-mail address',
    intro: 'Confirm that this address belongs to you by following the link.',
    action: 'Confirm my address',
    outro: 'If you did not expect this message, ignore it.',
  },
};

/** Plain text and HTML of one message; every interpolated value is escaped in the HTML part. */
export function renderMail(template: MailTemplate, input: TemplateInput): MailMessage {
  const copy = COPY[template];
  const expiry = input.expiresInMinutes >= 120 ? `${Math.round(input.expiresInMinutes / 60)} hours` : `${input.expiresInMinutes} minutes`;
  const text = [copy.intro, '', `${copy.action}: ${input.link}`, '', `The link works once, within ${expiry}.`, '', copy.outro, ''].join('\n');
  const html = `<!doctype html><html lang="en"><body style="font-family:system-ui,sans-serif;color:#0f172a;max-width:36rem">
<p>${escapeHtml(copy.intro)}</p>
<p><a href="${escapeHtml(input.link)}" style="display:inline-block;background:#4f46e5;color:#fff;padding:.6rem 1rem;border-radius:.375rem;text-decoration:none">${escapeHtml(copy.action)}</a></p>
<p style="font-size:.875rem;color:#475569">The link works once, within ${escapeHtml(expiry)}. ${escapeHtml(copy.outro)}</p>
</body></html>`;
  return { to: input.to, subject: copy.subject, text, html };
}
