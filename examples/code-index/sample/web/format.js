// Price formatting shared by the pages.

const LOCALE = "en-GB";

function formatPrice(cents, currency) {
  return new Intl.NumberFormat(LOCALE, { style: "currency", currency }).format(cents / 100);
}

class PriceTag {
  constructor(cents) {
    this.cents = cents;
  }

  render() {
    return formatPrice(this.cents, "EUR");
  }
}

module.exports = { formatPrice, PriceTag };
