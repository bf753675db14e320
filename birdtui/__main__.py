from birdtui.cli import main

raise SystemExit(main())
