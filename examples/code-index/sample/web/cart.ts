// A shopping cart in the browser.

import { formatPrice } from "./format";

export type Currency = "EUR" | "USD";

export interface CartItem {
  sku: string;
  cents: number;
  quantity: number;
}

export class Cart {
  private items: CartItem[] = [];

  constructor(readonly currency: Currency) {}

  add(item: CartItem): void {
    this.items.push(item);
  }

  totalCents(): number {
    return this.items.reduce((sum, i) => sum + i.cents * i.quantity, 0);
  }

  label(): string {
    return formatPrice(this.totalCents(), this.currency);
  }
}

export function emptyCart(currency: Currency = "EUR"): Cart {
  return new Cart(currency);
}

export const checkout = async (cart: Cart): Promise<number> => cart.totalCents();
