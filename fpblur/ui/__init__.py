"""Front ends: the session shared by the desktop app (Tk) and the notebook widget demo."""
