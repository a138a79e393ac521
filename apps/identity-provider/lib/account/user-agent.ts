import Bowser from 'bowser';

export interface DeviceSummary {
  /** "Chrome 131 on Linux", or null when the header says nothing recognisable. */
  label: string | null;
  type: 'desktop' | 'mobile' | 'tablet' | 'unknown';
}

/** A user agent header as the account page shows it: browser, major version and OS (bowser's tables). */
export function describeUserAgent(userAgent: string | null): DeviceSummary {
  if (!userAgent) return { label: null, type: 'unknown' };
  try {
    const parsed = Bowser.parse(userAgent.slice(0, 512));
    const browser = parsed.browser.name ? `${parsed.browser.name}${parsed.browser.version ? ` ${parsed.browser.version.split('.')[0]}` : ''}` : null;
    const os = parsed.os.name ?? null;
    const type =
      parsed.platform.type === 'mobile' || parsed.platform.type === 'tablet' || parsed.platform.type === 'desktop' ? parsed.platform.type : 'unknown';
    const label = browser && os ? `${browser} on ${os}` : (browser ?? os);
    return { label, type };
  } catch {
    return { label: null, type: 'unknown' };
  }
}
