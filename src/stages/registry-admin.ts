/** Reports and publisher flags of registry datasets, behind `sluice validate --report` and `sluice publisher …`. */
import { loadDataset } from "../config/load.ts";
import { SluiceError } from "../errors.ts";
import { withCurrentApiDatabase } from "./session.ts";
import { listPublishers, type PublisherView, unflagPublisher } from "./validate/publishers.ts";
import { findReport, type StoredReport } from "./validate/validate.ts";

async function registryDatasetName(name: string | undefined, config?: string): Promise<string> {
  const dataset = await loadDataset(name, config);
  if (dataset.source.kind !== "registry") {
    throw new SluiceError(`dataset ${dataset.name} has no publishers`, { hint: "publishers belong to registry datasets, such as iati" });
  }
  return dataset.name;
}

export async function readReport(dataset: string | undefined, id: number, config?: string): Promise<StoredReport> {
  const name = await registryDatasetName(dataset, config);
  const report = await withCurrentApiDatabase((sql) => findReport(sql, id));
  if (!report || report.dataset !== name) {
    throw new SluiceError(`validation report ${id} of dataset ${name} does not exist`, { hint: "report ids are in each row's report_id column" });
  }
  return report;
}

export async function publishersOf(dataset: string | undefined, options: { flaggedOnly?: boolean; config?: string } = {}): Promise<PublisherView[]> {
  const name = await registryDatasetName(dataset, options.config);
  return withCurrentApiDatabase((sql) => listPublishers(sql, name, options));
}

export async function unflag(dataset: string | undefined, publisher: string, config?: string): Promise<void> {
  const name = await registryDatasetName(dataset, config);
  const done = await withCurrentApiDatabase((sql) => unflagPublisher(sql, name, publisher));
  if (!done) {
    throw new SluiceError(`publisher ${publisher} of ${name} is not flagged`, { hint: `\`sluice publisher list ${name} --flagged\` lists the flagged ones` });
  }
}
