// A time-series chart: uPlot (small, fast, canvas) sized to its box and redrawn when it resizes.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  dash?: boolean;
}

interface Props {
  title: string;
  times: number[];
  series: Series[];
  format: (value: number | null) => string;
  testid: string;
}

const HEIGHT = 200;

export function Chart({ title, times, series, format, testid }: Props) {
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 200),
      height: HEIGHT,
      legend: { show: true, live: true },
      cursor: { points: { size: 6 }, drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { stroke: "#6b7280", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" } },
        {
          stroke: "#6b7280", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e5e7eb" }, size: 64,
          values: (_u, ticks) => ticks.map((tick) => format(tick)),
        },
      ],
      series: [
        { value: (_u, value) => (value === null ? "–" : new Date(value * 1000).toLocaleString()) },
        ...series.map((item) => ({
          label: item.label, stroke: item.color, width: 2, dash: item.dash ? [6, 4] : undefined,
          fill: series.length === 1 ? `${item.color}22` : undefined, spanGaps: false,
          // Dots where a line alone would not show: few buckets, or a series with a lone value.
          points: { show: times.length < 40 || item.values.filter((value) => value !== null).length <= 3 },
          value: (_u: uPlot, value: number | null) => format(value),
        })),
      ],
    };
    const chart = new uPlot(options, [times, ...series.map((item) => item.values)] as uPlot.AlignedData, element);
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(element.clientWidth, 200), height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [times, series, format]);

  return (
    <section class="panel chart" data-testid={testid}>
      <h3>{title}</h3>
      <div ref={box} class="chart-box" />
    </section>
  );
}
