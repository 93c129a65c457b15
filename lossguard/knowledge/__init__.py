"""What lossguard knows about the world: framework operations (`ops`), their kinds, and what
names say about the values they hold (`names`). Imports nothing else of lossguard."""
