import {
  byName,
  only,
  ref,
  resourcesOf,
  synthOrderStack,
  TEST_ENVIRONMENTS,
  testConfig,
  TfJson,
} from "../support/stacks";

type MetricLine = (string | { stat: string; period: number; label: string })[];
interface Widget {
  type: string;
  x: number;
  y: number;
  width: number;
  properties: TfJson;
}

/** Each metric line of the dashboard with the widget that draws it. */
function metricLines(widgets: Widget[]) {
  return widgets
    .filter((w) => w.type === "metric")
    .flatMap((widget) =>
      (widget.properties.metrics as MetricLine[]).map((line) => {
        const options = line.at(-1) as { stat: string; period: number };
        const parts = line.slice(0, -1) as string[];
        const dimensions: Record<string, string> = {};
        for (let i = 2; i < parts.length; i += 2) dimensions[parts[i]] = parts[i + 1];
        return { widget, namespace: parts[0], name: parts[1], dimensions, ...options };
      }),
    );
}

describe.each(Object.keys(TEST_ENVIRONMENTS))("operations dashboard: %s", (environment) => {
  const config = testConfig(environment);
  const json = synthOrderStack(config);
  const dashboard = only(json, "aws_cloudwatch_dashboard").body;
  const widgets: Widget[] = JSON.parse(dashboard.dashboard_body).widgets;
  const lines = metricLines(widgets);

  test("is named from the environment's names, with the rows in the order operators ask", () => {
    expect(dashboard.dashboard_name).toBe(config.names.dashboard);
    const headings = widgets.filter((w) => w.type === "text").map((w) => w.properties.markdown);
    expect(
      headings.map((h: string) =>
        h
          .match(/^## (\d)\. (\w+)/)!
          .slice(1)
          .join(" "),
      ),
    ).toEqual(["1 Alarms", "2 Intake", "3 Queue", "4 Function", "5 Outcomes", "6 Table"]);
    // Widgets never overlap: each row starts below the tallest widget of the one before.
    const cells = new Set<string>();
    for (const w of widgets)
      for (let dx = 0; dx < w.width; dx++) {
        const cell = `${w.x + dx},${w.y}`;
        expect(cells.has(cell)).toBe(false);
        cells.add(cell);
      }
  });

  test("the alarm row shows exactly the stack's alarms", () => {
    const alarmWidget = widgets.find((w) => w.type === "alarm")!;
    const alarms = resourcesOf(json, "aws_cloudwatch_metric_alarm");
    expect([...alarmWidget.properties.alarms].sort()).toEqual(
      alarms.map((a) => ref("aws_cloudwatch_metric_alarm", a.name, "arn")).sort(),
    );
  });

  test("every metric names a resource of this stack, and every resource is on the dashboard", () => {
    const stackNames = {
      QueueName: resourcesOf(json, "aws_sqs_queue").map((q) => q.body.name),
      TopicName: [byName(json, "aws_sns_topic", config.names.topic).body.name],
      FunctionName: [only(json, "aws_lambda_function").body.function_name],
      TableName: [only(json, "aws_dynamodb_table").body.name],
    };
    const fnVariables = only(json, "aws_lambda_function").body.environment.variables;
    const named = new Set<string>();
    for (const line of lines) {
      for (const [dimension, value] of Object.entries(line.dimensions)) {
        if (dimension === "service") {
          // The handler's EMF dimension: its default, as the function does not set POWERTOOLS_SERVICE_NAME.
          expect({ value, override: fnVariables.POWERTOOLS_SERVICE_NAME }).toEqual({
            value: "order-processor",
            override: undefined,
          });
          continue;
        }
        if (dimension === "Operation") continue;
        const known = stackNames[dimension as keyof typeof stackNames];
        expect({ metric: line.name, dimension, value, known: known?.includes(value) }).toEqual({
          metric: line.name,
          dimension,
          value,
          known: true,
        });
        named.add(value);
      }
    }
    expect([...named].sort()).toEqual(Object.values(stackNames).flat().sort());
  });

  test("each alarm's metric is drawn with the alarm's period, statistic and threshold", () => {
    for (const { body: alarm } of resourcesOf(json, "aws_cloudwatch_metric_alarm")) {
      const drawn = lines.filter(
        (l) =>
          l.namespace === alarm.namespace &&
          l.name === alarm.metric_name &&
          JSON.stringify(l.dimensions) === JSON.stringify(alarm.dimensions),
      );
      expect({ alarm: alarm.alarm_name, drawn: drawn.length }).toEqual({ alarm: alarm.alarm_name, drawn: 1 });
      expect({
        stat: drawn[0].stat,
        period: drawn[0].period,
        threshold: drawn[0].widget.properties.annotations?.horizontal?.[0]?.value,
      }).toEqual({ stat: alarm.statistic, period: alarm.period, threshold: alarm.threshold });
    }
  });

  test("duration is drawn against the function's timeout, concurrency against the mapping's maximum", () => {
    const annotation = (title: RegExp) =>
      widgets.find((w) => title.test(w.properties.title ?? ""))!.properties.annotations.horizontal[0].value;
    expect(annotation(/^Duration/)).toBe(only(json, "aws_lambda_function").body.timeout * 1000);
    expect(annotation(/^Concurrent/)).toBe(
      only(json, "aws_lambda_event_source_mapping").body.scaling_config.maximum_concurrency,
    );
  });
});
