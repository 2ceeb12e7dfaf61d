"""Corporacion Favorita Grocery Sales Forecasting: daily unit sales per store and item."""
