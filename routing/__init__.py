"""Settlement routing on payment-channel graphs (issue 7): not built yet."""
