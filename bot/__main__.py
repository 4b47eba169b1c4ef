"""`python -m bot` is `crisisbot`."""

from bot.cli import main

raise SystemExit(main())
