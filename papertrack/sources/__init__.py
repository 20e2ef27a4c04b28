"""Sources yield `Paper` records; they never touch the database."""
