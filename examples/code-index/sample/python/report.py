"""Monthly stock reports."""

import csv
from dataclasses import dataclass

LOW_STOCK = 3


@dataclass
class Line:
    sku: str
    quantity: int
    cents: int


class Report:
    """A report over inventory lines."""

    def __init__(self, lines):
        self.lines = list(lines)

    def total_cents(self) -> int:
        return sum(line.quantity * line.cents for line in self.lines)

    @staticmethod
    def header() -> str:
        return "sku,quantity,cents"


def low_stock(lines, threshold=LOW_STOCK):
    def is_low(line):
        return line.quantity < threshold

    return [line.sku for line in lines if is_low(line)]


def write_csv(report, path):
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(Report.header().split(","))
        for line in low_stock(report.lines):
            writer.writerow([line])
