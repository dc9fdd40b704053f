// A bar chart in plain SVG: labels and values stay readable text (a table for screen readers).
export type Bar = { label: string; value: number };

export function BarChart({ bars, title, format = String }: { bars: Bar[]; title: string; format?: (n: number) => string }) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  const width = 100 / Math.max(1, bars.length);
  return (
    <figure className="chart">
      <svg viewBox="0 0 100 40" preserveAspectRatio="none" role="img" aria-label={title}>
        {bars.map((bar, i) => {
          const height = (bar.value / max) * 38;
          return (
            <rect key={bar.label} x={i * width + width * 0.1} y={40 - height} width={width * 0.8} height={height} className="bar">
              <title>{`${bar.label}: ${format(bar.value)}`}</title>
            </rect>
          );
        })}
      </svg>
      <figcaption className="chart-axis">
        <span>{bars[0]?.label}</span>
        <span>{bars[bars.length - 1]?.label}</span>
      </figcaption>
      <table className="visually-hidden">
        <caption>{title}</caption>
        <tbody>
          {bars.map((bar) => (
            <tr key={bar.label}>
              <th scope="row">{bar.label}</th>
              <td>{format(bar.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** Used against a limit, as a horizontal meter (unlimited: no bar, the number alone). */
export function QuotaMeter({ used, limit, label, text }: { used: number; limit: number; label: string; text: string }) {
  const share = limit > 0 ? Math.min(1, used / limit) : 0;
  return (
    <div className="quota">
      {limit > 0 ? <meter min={0} max={limit} value={Math.min(used, limit)} low={limit * 0.8} high={limit * 0.95} optimum={0} aria-label={label} /> : null}
      <span>{text}</span>
      {limit > 0 ? <span className="muted small"> ({Math.round(share * 100)}%)</span> : null}
    </div>
  );
}
