"""The region: municipalities, schools, classes, the season's calendar, accounts, locations."""
