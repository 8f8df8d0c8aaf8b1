// The charts of the last 10 minutes, drawn by uPlot (axes, scales, values on hover): orders per second in
// and out, and the latency from entering the queue to being processed (median and slowest per second).
import uPlot from "uplot";
import { useEffect, useRef } from "preact/hooks";
import type { SeriesPoint } from "../api";
import { plural, time } from "./api";

const WINDOW_S = 600;

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

/** Every second of the window (a second with no point had none: the server keeps only busy seconds). */
function perSecond(points: SeriesPoint[]): SeriesPoint[] {
  const bySecond = new Map(points.map((p) => [p.at, p]));
  const now = Math.floor(Date.now() / 1000) * 1000;
  const seconds: SeriesPoint[] = [];
  for (let at = now - (WINDOW_S - 1) * 1000; at <= now; at += 1000)
    seconds.push(bySecond.get(at) ?? { at, in: 0, out: 0 });
  return seconds;
}

export function Charts(props: { points: SeriesPoint[] }) {
  const seconds = perSecond(props.points);
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
          title="Orders per second"
          unit="per second"
          data={rates}
          series={[
            { label: "in (published)", stroke: "#2563eb", width: 2 },
            { label: "out (processed or dead-lettered)", stroke: "#16a34a", width: 2, dash: [6, 3] },
          ]}
        />
        <figcaption id="rate-now">
          {`Last 10 minutes: ${total("in")} in, ${total("out")} out.`}
          {busiest ? ` At ${time(busiest.at).slice(0, 8)}: in ${busiest.in}/s, out ${busiest.out}/s.` : ""}
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
            : "No order processed yet."}
        </figcaption>
      </figure>
    </div>
  );
}
