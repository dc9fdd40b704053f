// One table for every list: column headers, and each cell labelled with its column so that narrow
// screens can show a row as a labelled card (styles.css, table.stack).
import type { ReactNode } from "react";
import { useI18n } from "../i18n";

export type Column<T> = { label: string; cell: (row: T) => ReactNode; className?: string };

export function Table<T>({
  columns,
  rows,
  rowKey,
  rowData,
}: {
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string;
  /** data-* attributes of a row (the browser tests find rows by them). */
  rowData?: (row: T) => Record<`data-${string}`, string>;
}) {
  return (
    <div className="table-wrap">
      <table className="stack">
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column.label}>
                {column.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowData?.(row)}>
              {columns.map((column) => (
                <td key={column.label} className={column.className} data-label={column.label}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A destructive action, done only once the user confirms it. */
export function ConfirmButton({
  children,
  label,
  disabled,
  onConfirmed,
}: {
  children: ReactNode;
  label?: string;
  disabled?: boolean;
  onConfirmed: () => void;
}) {
  const { t } = useI18n();
  return (
    <button type="button" className="danger" aria-label={label} disabled={disabled} onClick={() => window.confirm(t("common.confirm")) && onConfirmed()}>
      {children}
    </button>
  );
}
