from waa_ads.cli import main

main()
