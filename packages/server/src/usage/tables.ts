/** The usage table (migration 0017_usage): per workspace and UTC month, the peak of agents connected at once and the connected agent time. */

export interface UsageMonthsTable {
  workspace_id: string;
  /** `YYYY-MM` (UTC). */
  month: string;
  peak_agents: number;
  peak_at: string | null;
  /** Connected agents × milliseconds (an integer on both databases), added once per sample slot. */
  agent_ms: number;
  /** The last sample slot (ms since the epoch / slot length) added: the compare-and-set that makes each slot count once across replicas. */
  last_slot: number;
  updated_at: string;
}
