// A time-series chart over a period's buckets: uPlot (small, fast, canvas) sized to its box and
// redrawn when it resizes. Counts are bars, one per bucket (a line from one bucket to the next
// would draw a ramp that never happened); latencies are lines with gaps where a bucket had none.
// Off the chart, the legend shows the whole period's figure; over it, the bucket's.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  values: (number | null)[];  // what the legend says
  draw?: (number | null)[];   // what is drawn, when not that (stacked bars)
  color: string;
  dash?: boolean;
  total: string;  // the legend's text off the chart: the period's figure
}

interface Props {
  title: string;
  times: number[];  // bucket starts, `step` apart
  step: number;
  kind: "bars" | "lines";
  series: Series[];
  axis: (value: number, increment: number) => string;
  format: (value: number | null) => string;
  period: string;
  integers?: boolean;
  testid: string;
}

const HEIGHT = 200;
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const INTEGER_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500].flatMap((n) => [n, n * 1e3, n * 1e6]).sort((a, b) => a - b);
let measure: CanvasRenderingContext2D | null = null;

// The y axis as wide as its longest label ("$0.00015" must not lose its dollar sign).
function labelWidth(labels: string[] | null): number {
  measure ??= document.createElement("canvas").getContext("2d");
  if (!measure || !labels?.length) return 40;
  measure.font = FONT;
  return Math.ceil(Math.max(...labels.map((label) => measure!.measureText(label).width))) + 18;
}

function bucket(start: number, step: number): string {
  const from = new Date(start * 1000);
  const to = new Date((start + step) * 1000);
  const time: Intl.DateTimeFormatOptions = { hour: "numeric", minute: "2-digit" };
  const date = from.toLocaleString(undefined, { month: "short", day: "numeric", ...time });
  return `${date} – ${step >= 86400 ? to.toLocaleString(undefined, { month: "short", day: "numeric", ...time }) : to.toLocaleTimeString(undefined, time)}`;
}

export function Chart({ title, times, step, kind, series, axis, format, period, integers, testid }: Props) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = box.current;
    if (!element || times.length === 0) return;
    const bars = kind === "bars" ? uPlot.paths.bars!({ size: [0.7, 28], align: 0 }) : undefined;
    const grid = { stroke: "#eef0f3", width: 1 };
    const ticks = { stroke: "#e5e7eb", width: 1, size: 4 };
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: HEIGHT,
      legend: { show: true, live: true },
      cursor: { points: { size: 7 }, drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [times[0], times[times.length - 1] + step] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: "#6b7280", font: FONT, grid, ticks, space: 70 },
        {
          stroke: "#6b7280", font: FONT, grid, ticks, incrs: integers ? INTEGER_STEPS : undefined,
          values: (_u, splits, _axis, _space, increment) => splits.map((value) => axis(value, increment)),
          size: (_u, values) => labelWidth(values),
        },
      ],
      series: [
        { label: "Time", value: (_u, _v, _s, index) => (index === null ? period : bucket(times[index], step)) },
        ...series.map((item) => {
          const sparse = item.values.filter((value) => value !== null).length <= 40;
          return {
            label: item.label, stroke: item.color, width: bars ? 0 : 2, dash: item.dash ? [6, 4] : undefined,
            fill: bars ? item.color : undefined, paths: bars, spanGaps: false,
            points: { show: !bars && sparse, size: 5, fill: item.color },
            value: (_u: uPlot, _v: number | null, _s: number, index: number | null) =>
              (index === null ? item.total : format(item.values[index])),
          };
        }),
      ],
    };
    const middles = times.map((time) => time + step / 2);
    const chart = new uPlot(options, [middles, ...series.map((item) => item.draw ?? item.values)] as uPlot.AlignedData, element);
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(element.clientWidth, 200), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [times, step, kind, series, axis, format, period, integers]);

  return (
    <section class="panel chart" data-testid={testid}>
      <h3>{title}</h3>
      <div ref={box} class="chart-box" />
    </section>
  );
}
