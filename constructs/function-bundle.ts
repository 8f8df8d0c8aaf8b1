import { DataArchiveFile } from "@cdktf/provider-archive/lib/data-archive-file";
import { AssetType, TerraformAsset } from "cdktf";
import { Construct } from "constructs";
import { bundleHandler, ORDER_PROCESSOR } from "./handler-bundle";

export * from "./handler-bundle";

export interface FunctionBundleProps {
  /** The handler's TypeScript entry. @default ORDER_PROCESSOR.entry */
  readonly entry?: string;
  /** Folder the bundle is written to. @default ORDER_PROCESSOR.outdir */
  readonly outdir?: string;
}

/**
 * Bundles the handler at synth time, copies the bundle folder into the stack as an asset and zips it
 * with the archive provider's `archive_file` at plan time. A code change changes `sourceCodeHash`.
 */
export class FunctionBundle extends Construct {
  public readonly asset: TerraformAsset;
  public readonly archive: DataArchiveFile;
  /** Path of the zip, for `aws_lambda_function.filename`. */
  public readonly filename: string;
  /** Base64 SHA-256 of the zip, for `aws_lambda_function.source_code_hash`. */
  public readonly sourceCodeHash: string;

  constructor(scope: Construct, id: string, props: FunctionBundleProps = {}) {
    super(scope, id);
    const outdir = props.outdir ?? ORDER_PROCESSOR.outdir;
    bundleHandler(props.entry ?? ORDER_PROCESSOR.entry, outdir);
    this.asset = new TerraformAsset(this, "Asset", { path: outdir, type: AssetType.DIRECTORY });
    this.archive = new DataArchiveFile(this, "Archive", {
      type: "zip",
      sourceDir: this.asset.path,
      outputPath: `${this.asset.path}.zip`,
      // Fixed file modes make the zip, and so the hash, identical on every machine.
      outputFileMode: "0644",
    });
    this.filename = this.archive.outputPath;
    this.sourceCodeHash = this.archive.outputBase64Sha256;
  }
}
