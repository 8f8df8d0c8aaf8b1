// The charts of the source's window (a local run: 10 minutes by the second; a deployed stack: 3 hours by the
// minute), drawn by uPlot (axes, scales, values on hover): messages in and out of the queue per step, and
// where the source knows it the latency from entering the queue to being processed (median and slowest).
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import type { SeriesPoint } from "../api";
import { plural, time } from "./api";

/** A uPlot chart that follows `data`: made once, given new data after. */
function Chart(props: { id: string; title: string; series: uPlot.Series[]; data: uPlot.AlignedData; unit: string }) {
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot>();
  useEffect(() => {
    const options: uPlot.Options = {
      title: props.title,
      width: Math.min(560, (box.current?.clientWidth || 560) - 8),
      height: 180,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.15))] } },
      axes: [{}, { label: props.unit, size: 60 }],
      series: [{}, ...props.series],
    };
    chart.current = new uPlot(options, props.data, box.current!);
    return () => chart.current?.destroy();
  }, []);
  useEffect(() => chart.current?.setData(props.data), [props.data]);
  return <div id={props.id} class="chart" ref={box} />;
}

export interface ChartWindow {
  readonly stepSeconds: number;
  readonly windowSeconds: number;
}

/** Every step of the window (a step with no point had none: the sources keep only busy ones). */
function perStep(points: SeriesPoint[], window: ChartWindow): SeriesPoint[] {
  const step = window.stepSeconds * 1000;
  const byStep = new Map(points.map((p) => [p.at, p]));
  const now = Math.floor(Date.now() / step) * step;
  const steps: SeriesPoint[] = [];
  for (let at = now - (window.windowSeconds * 1000 - step); at <= now; at += step)
    steps.push(byStep.get(at) ?? { at, in: 0, out: 0 });
  return steps;
}

/** "10 minutes", "3 hours"; "second", "minute". */
const span = (seconds: number) =>
  seconds % 3600 === 0 ? plural(seconds / 3600, "hour") : plural(seconds / 60, "minute");
const unitOf = (seconds: number) => (seconds === 1 ? "second" : seconds === 60 ? "minute" : `${seconds} s`);

export function Charts(props: { points: SeriesPoint[]; window: ChartWindow }) {
  const seconds = perStep(props.points, props.window);
  const per = unitOf(props.window.stepSeconds);
  const x = seconds.map((p) => p.at / 1000);
  const rates: uPlot.AlignedData = [x, seconds.map((p) => p.in), seconds.map((p) => p.out)];
  const latencies: uPlot.AlignedData = [
    x,
    seconds.map((p) => p.latency?.median ?? null),
    seconds.map((p) => p.latency?.max ?? null),
  ];
  const busiest = props.points.filter((p) => p.in || p.out).at(-1);
  const total = (key: "in" | "out") => props.points.reduce((sum, p) => sum + p[key], 0);
  const timed = props.points.filter((p) => p.latency).at(-1);
  return (
    <div class="charts">
      <figure>
        <Chart
          id="rate-chart"
          title={`Messages per ${per}`}
          unit={`per ${per}`}
          data={rates}
          series={[
            { label: "in (published)", stroke: "#2563eb", width: 2 },
            { label: "out (processed or dead-lettered)", stroke: "#16a34a", width: 2, dash: [6, 3] },
          ]}
        />
        <figcaption id="rate-now">
          {`Last ${span(props.window.windowSeconds)}: ${total("in")} in, ${total("out")} out.`}
          {busiest ? ` At ${time(busiest.at).slice(0, 8)}: in ${busiest.in}, out ${busiest.out} per ${per}.` : ""}
        </figcaption>
      </figure>
      <figure>
        <Chart
          id="latency-chart"
          title="Queue to processed"
          unit="ms"
          data={latencies}
          series={[
            { label: "median", stroke: "#2563eb", width: 2, points: { show: true, size: 5 } },
            { label: "slowest", stroke: "#dc2626", width: 2, dash: [6, 3], points: { show: true, size: 5 } },
          ]}
        />
        <figcaption id="latency">
          {timed?.latency
            ? `At ${time(timed.at).slice(0, 8)}: median ${timed.latency.median} ms, slowest ${timed.latency.max} ms over ${plural(timed.latency.count, "order")}.`
            : props.window.stepSeconds === 1
              ? "No order processed yet."
              : "This source keeps no latency per order."}
        </figcaption>
      </figure>
    </div>
  );
}
