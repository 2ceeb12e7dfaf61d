"""Blue Book for Bulldozers: predict the auction price of used heavy equipment (RMSLE)."""
