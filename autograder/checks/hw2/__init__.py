"""Hidden checks of homework 2: optimization, convolution arithmetic, backpropagation and parameter
counting (one test_<question>.py per notebook)."""
