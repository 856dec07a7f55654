// Reads cart lines pasted by a user.

import { CartItem } from "./cart";

export class Parser {
  constructor(private readonly separator: string = ",") {}

  parse(line: string): CartItem | undefined {
    const [sku, cents, quantity] = line.split(this.separator);
    if (!sku) return undefined;
    return { sku, cents: Number(cents), quantity: Number(quantity) };
  }
}
