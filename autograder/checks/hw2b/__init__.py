"""Hidden checks of homework 2, "the numbers behind a CNN" (scratch name hw2b; one test_<question>.py per notebook)."""
