print("knify")
