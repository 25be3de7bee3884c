"""The catalog: categories, products with their options and SKUs, stock per store, pictures,
and its import and export as CSV or XLSX."""
