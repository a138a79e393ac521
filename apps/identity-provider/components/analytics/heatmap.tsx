import { formatCount } from './shared';

const DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const DAY_NAMES = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const hour = (h: number) => `${String(h).padStart(2, '0')}:00`;

/** Token events by weekday (rows, Monday first) and hour of day (columns) in the dashboard's time zone. */
export function PeakHeatmap({ grid, timeZone }: { grid: number[][]; timeZone: string }) {
  const max = Math.max(0, ...grid.flat());
  const total = grid.flat().reduce((a, b) => a + b, 0);
  let best = { d: 0, h: 0, n: -1 };
  grid.forEach((row, d) =>
    row.forEach((n, h) => {
      if (n > best.n) best = { d, h, n };
    }),
  );
  const label = total
    ? `Peak usage by weekday and hour (${timeZone}): ${formatCount(total)} token events; busiest ${DAY_NAMES[best.d]} ${hour(best.h)}–${hour((best.h + 1) % 24)} with ${formatCount(best.n)}.`
    : `Peak usage by weekday and hour (${timeZone}): no token events.`;
  return (
    <figure role="group" aria-label={label} data-testid="chart-heatmap" className="m-0">
      <div aria-hidden className="overflow-x-auto">
        <div className="grid min-w-[520px] gap-[2px]" style={{ gridTemplateColumns: '2.25rem repeat(24, minmax(0, 1fr))' }}>
          <div />
          {Array.from({ length: 24 }, (_, h) => (
            <div key={h} className="text-center text-[10px] text-slate-500">
              {h % 3 === 0 ? h : ''}
            </div>
          ))}
          {grid.map((row, d) => [
            <div key={`d${d}`} className="pr-1 text-right text-[11px] leading-5 text-slate-600">
              {DAYS[d]}
            </div>,
            ...row.map((n, h) => (
              <div
                key={`${d}-${h}`}
                title={`${DAY_NAMES[d]} ${hour(h)}: ${n}`}
                className="h-5 rounded-sm"
                style={{ backgroundColor: n === 0 ? '#f1f5f9' : `rgba(42, 85, 219, ${0.15 + 0.85 * (n / max)})` }}
              />
            )),
          ])}
        </div>
      </div>
      <figcaption className="mt-2 text-xs text-slate-500">{label}</figcaption>
      <div className="sr-only">
        <table>
          <caption>Token events by weekday and hour ({timeZone}); hours without events are left out</caption>
          <thead>
            <tr>
              <th scope="col">Weekday</th>
              <th scope="col">Hour</th>
              <th scope="col">Events</th>
            </tr>
          </thead>
          <tbody>
            {grid.flatMap((row, d) =>
              row.map((n, h) =>
                n ? (
                  <tr key={`${d}-${h}`}>
                    <th scope="row">{DAY_NAMES[d]}</th>
                    <td>{hour(h)}</td>
                    <td>{n}</td>
                  </tr>
                ) : null,
              ),
            )}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
