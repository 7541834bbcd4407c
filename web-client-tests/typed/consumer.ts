// Integration code written against the generated types: if the schema
// drifts from what these operations expect, `tsc` fails.
import type {
  AssignLabelMutationVariables,
  CpuHistoryQuery,
  CpuHistoryQueryVariables,
  FleetPageQuery,
  LiveMetricsSubscription,
  MachineDashboardQuery,
} from './generated';

export function headline(result: MachineDashboardQuery): string {
  const m = result.machine;
  const cpu: number | undefined = m.latestMetrics?.cpuPercent;
  const labels: string[] = m.labels.map((l) => `${l.key}=${l.value}`);
  return `${m.hostname} ${m.online ? 'up' : 'down'} cpu=${cpu ?? 'n/a'} [${labels.join(',')}]`;
}

export function nextPage(page: FleetPageQuery): string | null {
  return page.machines.pageInfo.hasNextPage ? (page.machines.pageInfo.endCursor ?? null) : null;
}

export const lastDay: CpuHistoryQueryVariables = { id: 'machine-id', range: 'H24' };

export function peak(history: CpuHistoryQuery): number {
  const hourly: boolean = history.metricHistory.resolution === 'HOURLY';
  const values = history.metricHistory.points.map((p) => p.cpuPercent ?? 0);
  return hourly ? Math.max(0, ...values) : values.reduce((a, b) => Math.max(a, b), 0);
}

export function sample(event: LiveMetricsSubscription): [string, number, number] {
  const e = event.machineMetrics;
  return [e.at, e.cpuPercent, e.ramPercent];
}

export const tagging: AssignLabelMutationVariables = { labelId: 'label', machineIds: ['a', 'b'], value: null };
