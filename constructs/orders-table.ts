import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { Construct } from "constructs";

export interface OrdersTableProps {
  /** The table's name, e.g. `Orders`. */
  readonly tableName: string;
  /** Refuse deletion of the table (production data). @default false */
  readonly deletionProtection?: boolean;
}

/** The partition key every order is stored under: one item per orderId. */
export const ORDER_KEY = "orderId";

/** The Orders table: on-demand, encrypted, point-in-time recoverable. */
export class OrdersTable extends Construct {
  public readonly table: DynamodbTable;
  public readonly tableArn: string;
  public readonly tableName: string;

  constructor(scope: Construct, id: string, props: OrdersTableProps) {
    super(scope, id);
    this.table = new DynamodbTable(this, "Table", {
      name: props.tableName,
      billingMode: "PAY_PER_REQUEST",
      hashKey: ORDER_KEY,
      attribute: [{ name: ORDER_KEY, type: "S" }],
      pointInTimeRecovery: { enabled: true },
      serverSideEncryption: { enabled: true },
      deletionProtectionEnabled: props.deletionProtection ?? false,
    });
    this.tableArn = this.table.arn;
    this.tableName = this.table.name;
  }
}
