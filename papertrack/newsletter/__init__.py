"""The newsletter: the editor's notes and picks (`editorial`), the papers section
(`digest`, its template in templates/), and past issues imported (`past_issues`)."""
